// A number hidden in a generic parameter is refused by rustc, with sdwire's
// `on_unimplemented` message, where the generic type is used.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Wrapper<T: Wire> {
    inner: T,
}

fn main() {
    let _w = Wrapper { inner: 7u32 };
}
