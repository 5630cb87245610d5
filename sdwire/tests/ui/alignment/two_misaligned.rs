// Two misplaced fields: each reported once, the second at the offset it
// has once the first one's padding is explicit (a C compiler's offset).
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Entry {
    kind: u8,
    id: u32,
    flag: u8,
    oid: u64,
}

fn main() {}
