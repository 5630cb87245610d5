// A half-open range excludes its end.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8, range = 0x80..0xa0)]
enum PeerOp {
    #[wire(opcode = 0x80)]
    CreateAndWritePeer,
    #[wire(opcode = 0xa0)]
    Beyond,
}

fn main() {}
