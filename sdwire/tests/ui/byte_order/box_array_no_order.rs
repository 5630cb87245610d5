// A boxed array of multi-byte numbers needs a byte order too.
use sdwire::Wire;

#[derive(Wire)]
struct Inode {
    data_vdi_id: Box<[u32; 1024]>,
}

fn main() {}
