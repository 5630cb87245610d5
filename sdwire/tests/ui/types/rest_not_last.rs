// `rest` takes the rest of the input, so it must be last.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    #[wire(rest)]
    data: Vec<u8>,
    crc: u32,
}

fn main() {}
