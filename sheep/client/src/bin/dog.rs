//! `dog`: the sheepdog admin CLI (logic in `sheep_client::dog`).

fn main() {
    std::process::exit(sheep_client::dog::main());
}
