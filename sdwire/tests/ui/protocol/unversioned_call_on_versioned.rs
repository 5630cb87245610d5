// A versioned type must be told which version to speak.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, version = 2, compat = 1)]
struct Put {
    key: u32,
}

fn main() {
    let _ = sdwire::to_vec_unversioned(&Put { key: 1 });
}
