// `name` takes a string.
use sdwire::Wire;

#[derive(Wire)]
#[wire(be, packed)]
struct Reply(u32, #[wire(name = cookie)] u64);

fn main() {}
