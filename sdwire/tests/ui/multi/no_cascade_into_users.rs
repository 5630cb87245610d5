// A broken enum and a broken struct used everywhere a `Wire` type can be:
// as a field, in a `Vec`, in an array, through the generic API and the
// frame codec. Only the derive errors are reported; every use type-checks
// against the stub impls.
use sdwire::codec::FrameCodec;
use sdwire::Wire;

#[derive(Wire, Debug)]
#[wire(tag = u8)]
enum Op {
    #[wire(opcode = 1)]
    Read,
    #[wire(opcode = 1)]
    Write,
}

#[derive(Wire, Debug)]
#[wire(le, size = 4)]
struct Hdr {
    op: u8,
    len: u16,
}

impl sdwire::codec::FrameHeader for Hdr {
    fn payload_len(&self) -> u64 {
        u64::from(self.len)
    }
}

#[derive(Wire)]
#[wire(le)]
struct Uses {
    op: Op,
    hdr: Hdr,
    hdrs: [Hdr; 2],
    n: u8,
    #[wire(count = n)]
    ops: Vec<Op>,
}

fn main() {
    let _ = sdwire::to_vec(&Op::Read, 0);
    let _ = sdwire::from_slice::<Uses>(&[0; 64], 0);
    let _ = FrameCodec::<Hdr>::new(0, 1024);
    let _ = <Hdr as Wire>::LAYOUT.render();
}
