//! The kv server (implements the generated [`KvHandler`] trait), the client,
//! and the demo flow shared by `cargo run --example kv` and
//! `tests/example_kv.rs`.

use crate::proto::{
    Header, Key, KvHandler, PutReq, Request, Response, Status, COMPAT, CURRENT, KIND_REQUEST,
    KIND_RESPONSE, MAX_BODY,
};
use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use sdwire::codec::{Frame, FrameCodec};
use sdwire::{Version, Wire};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Framed;

/// Boxed error for the example.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The server's state: one map, shared by every connection.
#[derive(Default)]
pub struct Store {
    map: Mutex<BTreeMap<Bytes, (Bytes, u16)>>,
}

impl KvHandler for Store {
    type Output = Response;

    async fn get(&self, k: Key) -> Response {
        match self.map.lock().unwrap().get(&k.key) {
            Some((v, _)) => Response::new(Status::Ok, v.clone()),
            None => Response::new(Status::NotFound, Bytes::new()),
        }
    }

    async fn put(&self, p: PutReq) -> Response {
        // A real server would expire keys; the demo only records the ttl.
        self.map
            .lock()
            .unwrap()
            .insert(p.key, (p.value, p.ttl_secs));
        Response::new(Status::Ok, Bytes::new())
    }

    async fn delete(&self, k: Key) -> Response {
        match self.map.lock().unwrap().remove(&k.key) {
            Some(_) => Response::new(Status::Ok, Bytes::new()),
            None => Response::new(Status::NotFound, Bytes::new()),
        }
    }

    async fn list(&self, prefix: Key) -> Response {
        let map = self.map.lock().unwrap();
        let keys: Vec<&[u8]> = map
            .keys()
            .filter(|k| k.starts_with(&prefix.key))
            .map(|k| &k[..])
            .collect();
        Response::new(Status::Ok, keys.join(&b'\n'))
    }
}

impl Store {
    /// The stored ttl of a key (to show that a v1 put carries none).
    pub fn ttl(&self, key: &[u8]) -> Option<u16> {
        self.map.lock().unwrap().get(key).map(|(_, t)| *t)
    }
}

/// Decodes, dispatches and answers one request body at `version`.
async fn handle(store: &Store, version: Version, body: Bytes) -> Response {
    if !(COMPAT..=CURRENT).contains(&version) {
        return Response::new(
            Status::BadRequest,
            format!("unsupported version {version}: this server speaks {COMPAT}..={CURRENT}"),
        );
    }
    match sdwire::from_slice_exact::<Request>(&body, version) {
        Ok(req) => req.dispatch(store).await,
        Err(e) => Response::new(Status::BadRequest, e.to_string()),
    }
}

/// Serves one connection until the peer closes it.
async fn connection(store: Arc<Store>, socket: TcpStream) -> Result<(), Error> {
    let mut framed = Framed::new(socket, FrameCodec::<Header>::new(0, MAX_BODY));
    while let Some(frame) = framed.next().await {
        let Frame { header, payload } = frame?;
        if header.kind != KIND_REQUEST {
            return Err("expected a request".into());
        }
        let version = Version::from(header.proto_ver);
        let rsp = handle(&store, version, payload).await;
        // Answer in the request's version (BadRequest replies use the
        // oldest one, which every client reads).
        let rsp_ver = if (COMPAT..=CURRENT).contains(&version) {
            version
        } else {
            COMPAT
        };
        let body = sdwire::to_bytes(&rsp, rsp_ver)?;
        let hdr = Header {
            proto_ver: rsp_ver as u8,
            kind: KIND_RESPONSE,
            id: header.id,
            body_len: u32::try_from(body.len())?,
            ..Header::default()
        };
        framed.send(Frame::new(hdr, body)).await?;
    }
    Ok(())
}

/// Accepts connections until `shutdown` completes.
pub async fn serve(listener: TcpListener, store: Arc<Store>, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => {
                    let store = store.clone();
                    tokio::spawn(async move {
                        if let Err(e) = connection(store, socket).await {
                            eprintln!("kv server: connection closed: {e}");
                        }
                    });
                }
                Err(e) => eprintln!("kv server: accept failed: {e}"),
            },
        }
    }
}

/// A client speaking one protocol version.
pub struct Client {
    framed: Framed<TcpStream, FrameCodec<Header>>,
    version: Version,
    next_id: u32,
}

impl Client {
    /// Connects to `addr`, speaking `version`.
    pub async fn connect(addr: std::net::SocketAddr, version: Version) -> Result<Self, Error> {
        let socket = TcpStream::connect(addr).await?;
        Ok(Client {
            framed: Framed::new(socket, FrameCodec::new(0, MAX_BODY)),
            version,
            next_id: 1,
        })
    }

    /// Sends a request body already encoded (or hand-made) for `version`.
    pub async fn call_raw(&mut self, version: Version, body: Bytes) -> Result<Response, Error> {
        let id = self.next_id;
        self.next_id += 1;
        let hdr = Header {
            proto_ver: u8::try_from(version)?,
            kind: KIND_REQUEST,
            id,
            body_len: u32::try_from(body.len())?,
            ..Header::default()
        };
        self.framed.send(Frame::new(hdr, body)).await?;
        let frame = self
            .framed
            .next()
            .await
            .ok_or("server closed the connection")??;
        if frame.header.id != id || frame.header.kind != KIND_RESPONSE {
            return Err("response does not match the request".into());
        }
        Ok(sdwire::from_slice_exact(
            &frame.payload,
            Version::from(frame.header.proto_ver),
        )?)
    }

    /// Sends `req` at this client's version. Fails locally, before sending,
    /// when `req` cannot be said at that version (an opcode or a non-default
    /// field it does not have).
    pub async fn call(&mut self, req: &Request) -> Result<Response, Error> {
        let mut body = BytesMut::with_capacity(req.wire_size(self.version));
        req.encode(&mut body, self.version)?;
        self.call_raw(self.version, body.freeze()).await
    }
}

/// Formats a response for the demo output.
pub fn show(r: &Result<Response, Error>) -> String {
    match r {
        Ok(r) => format!("{:?} {:?}", r.status, String::from_utf8_lossy(&r.value)),
        Err(e) => format!("error: {e}"),
    }
}

/// Runs the demo against a server at `addr`: a few requests from a v2 client
/// and a v1 client. Returns one line per request.
pub async fn demo(addr: std::net::SocketAddr) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    let mut log = |who: &str, what: &str, r: Result<Response, Error>| {
        out.push(format!("{who} {what:<28} -> {}", show(&r)));
        r
    };

    let mut v2 = Client::connect(addr, 2).await?;
    let put = Request::Put(PutReq {
        ttl_secs: 60,
        ..PutReq::new("user/alice", "admin")
    });
    log("v2", "put user/alice ttl=60", v2.call(&put).await)?;
    log(
        "v2",
        "put user/bob",
        v2.call(&Request::Put(PutReq::new("user/bob", "dev"))).await,
    )?;
    log(
        "v2",
        "get user/alice",
        v2.call(&Request::Get(Key::new("user/alice"))).await,
    )?;
    log(
        "v2",
        "list user/",
        v2.call(&Request::List(Key::new("user/"))).await,
    )?;

    let mut v1 = Client::connect(addr, 1).await?;
    log(
        "v1",
        "get user/bob",
        v1.call(&Request::Get(Key::new("user/bob"))).await,
    )?;
    log(
        "v1",
        "put user/carol",
        v1.call(&Request::Put(PutReq::new("user/carol", "ops")))
            .await,
    )?;
    log(
        "v1",
        "delete user/bob",
        v1.call(&Request::Delete(Key::new("user/bob"))).await,
    )?;
    log(
        "v1",
        "get user/bob",
        v1.call(&Request::Get(Key::new("user/bob"))).await,
    )?;
    // Not expressible in v1: refused by the client's encoder, nothing sent.
    let _ = log(
        "v1",
        "list user/ (v2 opcode)",
        v1.call(&Request::List(Key::new("user/"))).await,
    );
    let _ = log("v1", "put user/alice ttl=60", v1.call(&put).await);
    // A hand-made v1 body carrying the v2-only opcode: the server refuses it.
    let raw = {
        let mut b = vec![0x04u8];
        sdwire::Wire::encode(&Key::new("user/"), &mut b, 1)?;
        Bytes::from(b)
    };
    let _ = log("v1", "raw List opcode at v1", v1.call_raw(1, raw).await);
    log(
        "v2",
        "list user/",
        v2.call(&Request::List(Key::new("user/"))).await,
    )?;
    Ok(out)
}
