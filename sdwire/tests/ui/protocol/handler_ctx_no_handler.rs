// `handler_ctx` shapes the handler trait that `no_handler` turns off.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u16, be, no_handler, handler_ctx)]
enum Cmd {
    #[wire(opcode = 0)]
    Read,
}

fn main() {}
