// `max` bounds a `len`/`count` binding.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    n: u32,
    #[wire(max = 4096)]
    data: [u8; 16],
}

fn main() {}
