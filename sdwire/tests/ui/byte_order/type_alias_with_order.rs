// ...even with a byte order: the alias still hides the number, and a bare
// `u32` has no `Wire` impl (it has no byte order of its own).
use sdwire::Wire;

type Epoch = u32;

#[derive(Wire)]
#[wire(le)]
struct Header {
    epoch: Epoch,
}

fn main() {}
