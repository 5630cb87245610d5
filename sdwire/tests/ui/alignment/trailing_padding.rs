// The struct ends at byte 5, but its alignment is 4: a C compiler adds
// 3 bytes of trailing padding.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Entry {
    id: u32,
    flag: u8,
}

fn main() {}
