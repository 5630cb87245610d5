// Floats are multi-byte numbers too.
use sdwire::Wire;

#[derive(Wire)]
struct Sample {
    value: f32,
}

fn main() {}
