//! `dog`: the sheepdog admin CLI (logic in `sheep::dog`).

fn main() {
    std::process::exit(sheep::dog::main());
}
