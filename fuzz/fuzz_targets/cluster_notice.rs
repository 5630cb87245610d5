//! The cluster protocol's notices (driver notify bodies): `MakeFsNotice` and
//! `ShutdownNotice`.
use sdwire_fuzz::*;
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
        assert_eq!(ShutdownNotice::matches(data), data == ShutdownNotice::MAGIC);
    });
}
