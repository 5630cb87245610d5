// Byte orders: from the struct, overridden per field, via `Le`/`Be`, and
// none needed for single bytes and nested types.
use sdwire::{Be, Le, Wire};

#[derive(Wire, Debug, PartialEq)]
#[wire(le)]
struct Mixed {
    a: u32,
    #[wire(be)]
    b: u32,
    c: Be<u32>,
    d: Le<u32>,
    e: [u16; 2],
}

#[derive(Wire, Debug, PartialEq)]
struct NoOrder {
    flag: bool,
    byte: u8,
    signed: i8,
    name: [u8; 5],
    mixed: Mixed,
}

fn main() {
    let m = Mixed {
        a: 1,
        b: 1,
        c: Be::new(1),
        d: Le::new(1),
        e: [1, 2],
    };
    let b = sdwire::to_vec(&m, 0).unwrap();
    assert_eq!(
        b,
        [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 2, 0]
    );
    let n = NoOrder {
        flag: true,
        byte: 2,
        signed: -1,
        name: *b"sheep",
        mixed: m,
    };
    let b = sdwire::to_vec(&n, 0).unwrap();
    assert_eq!(sdwire::from_slice::<NoOrder>(&b, 0).unwrap(), n);
}
