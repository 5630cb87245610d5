// A type alias hides the number from the derive: rustc refuses it through
// the `Wire` bound, with sdwire's `on_unimplemented` message.
use sdwire::Wire;

type Epoch = u32;

#[derive(Wire)]
struct Header {
    epoch: Epoch,
}

fn main() {}
