// Attribute errors on the container, a field and a variant, plus a parse
// error: all in one compile.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8, versoin = 2, size = 4)]
enum Op {
    #[wire(opcode = 1, sinse = 2)]
    Read {
        #[wire(lenght = n)]
        data: Vec<u8>,
    },
    #[wire(opcode = "two")]
    Write,
}

fn main() {
    let _ = sdwire::to_vec(&Op::Write, 0);
}
