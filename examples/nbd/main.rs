//! An NBD server written with sdwire: every message of the fixed-newstyle
//! handshake and of transmission is a `#[derive(Wire)]` type (big-endian,
//! with magic numbers, flag words, an optional zero padding, frame headers
//! whose length the writer fills), the framing switches between phases on
//! one reader, and options and commands dispatch to the generated handler
//! traits with the connection as context.
//!
//! ```text
//! cargo run --example nbd -- 127.0.0.1:10809
//! nbdinfo --list nbd://127.0.0.1:10809
//! qemu-io -f raw nbd://127.0.0.1:10809/disk -c 'write -P 0xab 0 64k' -c 'read -P 0xab 0 64k'
//! ```
//!
//! It serves two in-memory exports, `disk` (16 MiB) and `ro` (1 MiB,
//! read-only), until interrupted. `tests/example_nbd.rs` drives the same
//! server with `nbdinfo` and `qemu-io` (Debian's libnbd-bin, qemu-utils).

mod proto;
mod server;

use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), server::Error> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:10809".to_string());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("nbd server on {}: exports disk, ro", listener.local_addr()?);
    let exports = Arc::new(server::Exports::new(&[
        ("disk", 16 << 20, false),
        ("ro", 1 << 20, true),
    ]));
    server::serve(listener, exports, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    Ok(())
}
