// `handler_ctx` belongs on an opcode table.
use sdwire::Wire;

#[derive(Wire)]
#[wire(be, handler_ctx)]
struct Request {
    cookie: u64,
}

fn main() {}
