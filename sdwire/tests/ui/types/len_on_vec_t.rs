// `len` is for byte payloads; a `Vec<T>` takes `count`.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Item {
    id: u32,
}

#[derive(Wire)]
#[wire(le)]
struct Msg {
    n: u32,
    #[wire(len = n)]
    items: Vec<Item>,
}

fn main() {}
