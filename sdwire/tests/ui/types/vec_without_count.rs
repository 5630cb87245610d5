// A `Vec<T>` needs its element count.
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
    items: Vec<Item>,
}

fn main() {}
