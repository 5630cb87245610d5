//! The cluster protocol's notices (driver notify bodies): `MakeFsNotice` and
//! `ShutdownNotice`.
use sdwire_fuzz::*;
use sheep::cluster::state::{decode_make_fs, encode_make_fs};
use sheep::handlers::admin::is_shutdown_notify;
use sheep::proto::cluster::{MakeFsNotice, ShutdownNotice};
use sheep::proto::CLUSTER_VERSION;

fn main() {
    fuzz_main(|data: &[u8]| {
        let v = CLUSTER_VERSION;
        if let Some((n, used)) = roundtrip::<MakeFsNotice>(data, v, &[]) {
            // The store name takes the rest.
            assert_eq!(used, data.len());
            assert_eq!(n.store.len(), data.len() - 26);
            assert_eq!(n.is_valid(), data.starts_with(&MakeFsNotice::MAGIC));
        }
        roundtrip::<ShutdownNotice>(data, v, &[]);
        // The daemon's decoder: a notice it reads re-encodes to the same
        // format (the store name as text).
        if let Some(f) = decode_make_fs(data) {
            assert_eq!(decode_make_fs(&encode_make_fs(&f)), Some(f));
        }
        assert_eq!(is_shutdown_notify(data), ShutdownNotice::matches(data));
        assert_eq!(ShutdownNotice::matches(data), data == ShutdownNotice::MAGIC);
    });
}
