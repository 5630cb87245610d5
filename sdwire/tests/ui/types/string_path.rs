// Also when written as a path.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    name: std::string::String,
}

fn main() {}
