// `rest` is for payloads.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    a: u32,
    #[wire(rest)]
    b: u32,
}

fn main() {}
