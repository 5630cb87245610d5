// `count` is for `Vec<T>`; a byte payload takes `len`.
use bytes::Bytes;
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    n: u32,
    #[wire(count = n)]
    data: Bytes,
}

fn main() {}
