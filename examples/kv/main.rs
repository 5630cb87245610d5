//! A key-value protocol defined with `#[derive(Wire)]`, in two versions,
//! with a tokio server and client over loopback.
//!
//! ```text
//! cargo run --example kv
//! ```
//!
//! The server implements the `KvHandler` trait generated from the
//! `Request` opcode table and dispatches each decoded request to it; the
//! clients frame their messages with `sdwire::codec::FrameCodec`. A v2 client
//! and a v1 client talk to the same (v2) server.

mod app;
mod proto;

use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), app::Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let store = Arc::new(app::Store::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app::serve(listener, store.clone(), async {
        let _ = stopped.await;
    }));
    println!(
        "kv server on {addr}, speaking versions {}..={}",
        proto::COMPAT,
        proto::CURRENT
    );

    let lines = tokio::time::timeout(std::time::Duration::from_secs(10), app::demo(addr)).await??;
    for l in &lines {
        println!("{l}");
    }
    println!("ttl of user/alice (v2 put): {:?}", store.ttl(b"user/alice"));
    println!("ttl of user/carol (v1 put): {:?}", store.ttl(b"user/carol"));

    let _ = stop.send(());
    server.await?;
    Ok(())
}
