// A broken struct used as a field of a correct one: only the broken
// struct's errors are reported; the outer derive compiles against the stub.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, size = 8)]
struct Inner {
    a: u8,
    b: u32,
    c: char,
}

#[derive(Wire)]
#[wire(le)]
struct Outer {
    id: u64,
    inner: Inner,
    #[wire(count = n)]
    items: Vec<Inner>,
    n: u16,
}

fn main() {
    let _ = Outer::decode(&mut &[0u8; 16][..], 0);
}
