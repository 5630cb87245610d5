//! Cluster drivers (local and etcd): three members in one process see the
//! same joins, the same total order of notifies under concurrent senders,
//! and a crashed member leaving; etcd restarts evict nobody.
//!
//! The etcd tests start `/usr/bin/etcd` (or `etcd` on PATH) themselves on
//! 127.0.0.1 with free ports and a temporary data dir, and fail if it is
//! missing.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sheep::cluster::driver::{accept_all, ClusterDriver, ClusterEvent, JoinOutcome};
use sheep::cluster::etcd::{etcd_driver, EtcdOptions};
use sheep::cluster::local::{local_driver, LocalOptions};
use sheep_proto::SdNode;
use support::procs::Etcd;

mod support;

type Factory = Box<dyn Fn() -> Box<dyn ClusterDriver>>;

fn node(port: u16) -> SdNode {
    SdNode::new(format!("127.0.0.1:{port}").parse().unwrap(), 128, 1 << 30)
}

/// A member: its driver and everything it has seen.
struct Member {
    driver: Arc<dyn ClusterDriver>,
    node: SdNode,
    seen: Arc<Mutex<Vec<ClusterEvent>>>,
}

impl Member {
    async fn join(driver: Box<dyn ClusterDriver>, port: u16) -> Member {
        let driver: Arc<dyn ClusterDriver> = Arc::from(driver);
        let me = node(port);
        let out = tokio::time::timeout(
            Duration::from_secs(20),
            driver.join(me, Bytes::from(format!("hello from {port}")), accept_all()),
        )
        .await
        .expect("join timed out")
        .expect("join");
        let JoinOutcome::Accepted { mut events, .. } = out else {
            panic!("refused")
        };
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                s.lock().unwrap().push(ev);
            }
        });
        Member {
            driver,
            node: me,
            seen,
        }
    }

    fn events(&self) -> Vec<ClusterEvent> {
        self.seen.lock().unwrap().clone()
    }

    fn joins(&self) -> Vec<u16> {
        self.events()
            .iter()
            .filter_map(|e| match e {
                ClusterEvent::Join { node, .. } => Some(node.nid.port),
                _ => None,
            })
            .collect()
    }

    fn leaves(&self) -> Vec<u16> {
        self.events()
            .iter()
            .filter_map(|e| match e {
                ClusterEvent::Leave { node, .. } => Some(node.nid.port),
                _ => None,
            })
            .collect()
    }

    fn notifies(&self) -> Vec<String> {
        self.events()
            .iter()
            .filter_map(|e| match e {
                ClusterEvent::Notify { msg, .. } => Some(String::from_utf8_lossy(msg).into_owned()),
                _ => None,
            })
            .collect()
    }
}

async fn wait_for(what: &str, limit: Duration, mut pred: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !pred() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Three members join one after the other; all agree on the join order.
async fn three_members(factory: &Factory, base: u16) -> Vec<Member> {
    let mut ms = Vec::new();
    for i in 0..3 {
        ms.push(Member::join(factory(), base + i).await);
    }
    let ports = [base, base + 1, base + 2];
    wait_for("all joins", Duration::from_secs(10), || {
        ms.iter().all(|m| m.driver.members().len() == 3)
    })
    .await;
    wait_for("join events", Duration::from_secs(10), || {
        ms.iter()
            .enumerate()
            .all(|(i, m)| m.joins() == ports[i..].to_vec())
    })
    .await;
    for m in &ms {
        let members: Vec<u16> = m.driver.members().iter().map(|n| n.nid.port).collect();
        assert_eq!(members, ports, "membership is ordered by join");
    }
    // Every member numbers the membership changes alike: the i-th join is
    // epoch i+1, whenever the member itself joined.
    for (i, m) in ms.iter().enumerate() {
        let epochs: Vec<u32> = m.events().iter().filter_map(epoch_of).collect();
        let want: Vec<u32> = (i as u32 + 1..=3).collect();
        assert_eq!(epochs, want, "member {i}");
    }
    ms
}

fn epoch_of(e: &ClusterEvent) -> Option<u32> {
    match e {
        ClusterEvent::Join { epoch, .. } | ClusterEvent::Leave { epoch, .. } => Some(*epoch),
        ClusterEvent::Notify { .. } => None,
    }
}

/// Every member sends `per` notifies concurrently; all see one sequence.
async fn total_order(ms: &[Member], per: usize) {
    let before: Vec<usize> = ms.iter().map(|m| m.notifies().len()).collect();
    let mut tasks = Vec::new();
    for (i, m) in ms.iter().enumerate() {
        let d = m.driver.clone();
        tasks.push(tokio::spawn(async move {
            for k in 0..per {
                d.notify(Bytes::from(format!("m{i}-{k:03}")))
                    .await
                    .expect("notify");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let want = per * ms.len();
    wait_for("all notifies", Duration::from_secs(20), || {
        ms.iter()
            .zip(&before)
            .all(|(m, b)| m.notifies().len() >= b + want)
    })
    .await;
    let seqs: Vec<Vec<String>> = ms
        .iter()
        .zip(&before)
        .map(|(m, b)| m.notifies()[*b..].to_vec())
        .collect();
    for s in &seqs[1..] {
        assert_eq!(s, &seqs[0], "every member sees the same total order");
    }
    // Each sender's messages stay in its sending order, and the senders
    // really interleave through one order (sender included).
    for i in 0..ms.len() {
        let mine: Vec<&String> = seqs[0]
            .iter()
            .filter(|s| s.starts_with(&format!("m{i}-")))
            .collect();
        assert_eq!(mine.len(), per);
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "per-sender FIFO");
    }
    // The sender field names the sender.
    for m in ms {
        for e in m.events() {
            if let ClusterEvent::Notify { sender, msg } = e {
                let i: usize = String::from_utf8_lossy(&msg)[1..2].parse().unwrap();
                assert_eq!(sender, ms[i].node);
            }
        }
    }
}

/// The last member crashes (driver dropped without leaving); the others see
/// it leave, in the same order, within `limit`.
async fn crash_is_seen(mut ms: Vec<Member>, limit: Duration) -> Vec<Member> {
    let dead = ms.pop().unwrap();
    let port = dead.node.nid.port;
    drop(dead);
    let t0 = Instant::now();
    wait_for("the crashed member to leave", limit, || {
        ms.iter().all(|m| m.leaves() == vec![port])
    })
    .await;
    eprintln!("crash detected after {:?}", t0.elapsed());
    let mut leave_epochs = Vec::new();
    for m in &ms {
        assert_eq!(m.driver.members().len(), 2);
        match m.events().last().unwrap() {
            ClusterEvent::Leave { members, epoch, .. } => {
                assert_eq!(members.len(), 2);
                leave_epochs.push(*epoch);
            }
            e => panic!("unexpected last event {e:?}"),
        }
    }
    assert!(
        leave_epochs.windows(2).all(|w| w[0] == w[1]),
        "same epoch everywhere: {leave_epochs:?}"
    );
    // A graceful leave is seen at once.
    let gone = ms.pop().unwrap();
    let port2 = gone.node.nid.port;
    gone.driver.leave().await.unwrap();
    wait_for("the graceful leave", Duration::from_secs(5), || {
        ms[0].leaves() == vec![port, port2]
    })
    .await;
    ms
}

fn local_factory(dir: &Path) -> Factory {
    let dir = dir.to_path_buf();
    Box::new(move || {
        local_driver(
            &dir,
            LocalOptions {
                heartbeat: Duration::from_millis(250),
                timeout: Duration::from_millis(2000),
                poll: Duration::from_millis(5),
            },
        )
        .unwrap()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_driver_membership_order_and_liveness() {
    let dir = tempfile::tempdir().unwrap();
    let f = local_factory(&dir.path().join("cluster"));
    let ms = three_members(&f, 7000).await;
    total_order(&ms, 30).await;
    let ms = crash_is_seen(ms, Duration::from_secs(8)).await;
    // A new member joining later replays the log and agrees.
    let late = Member::join(f(), 7010).await;
    wait_for("late join", Duration::from_secs(5), || {
        ms[0].joins().last() == Some(&7010)
    })
    .await;
    let ports: Vec<u16> = late.driver.members().iter().map(|n| n.nid.port).collect();
    assert_eq!(ports, vec![7000, 7010]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_driver_refusal_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let opts = LocalOptions {
        heartbeat: Duration::from_millis(250),
        timeout: Duration::from_millis(2000),
        poll: Duration::from_millis(5),
    };
    let a: Arc<dyn ClusterDriver> = Arc::from(local_driver(dir.path(), opts).unwrap());
    let judge: sheep::cluster::JoinJudge = Arc::new(|_n: &SdNode, msg: &[u8]| {
        if msg == b"bad" {
            (false, Bytes::from_static(b"go away"))
        } else {
            (true, Bytes::from_static(b"welcome"))
        }
    });
    let JoinOutcome::Accepted {
        reply, mut events, ..
    } = a
        .join(node(7100), Bytes::from_static(b"good"), judge)
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(reply.is_empty(), "the founder gets no verdict");
    assert!(matches!(
        events.recv().await,
        Some(ClusterEvent::Join { .. })
    ));
    let b = local_driver(dir.path(), opts).unwrap();
    match b
        .join(node(7101), Bytes::from_static(b"bad"), accept_all())
        .await
        .unwrap()
    {
        JoinOutcome::Refused { reply } => assert_eq!(&reply[..], b"go away"),
        JoinOutcome::Accepted { .. } => panic!("accepted"),
    }
    let c = local_driver(dir.path(), opts).unwrap();
    let JoinOutcome::Accepted { reply, .. } = c
        .join(node(7102), Bytes::from_static(b"good"), accept_all())
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(&reply[..], b"welcome");
    // a saw only c's join: the refused node was never a member.
    match events.recv().await {
        Some(ClusterEvent::Join { node, members, .. }) => {
            assert_eq!(node.nid.port, 7102);
            assert_eq!(members.len(), 2);
        }
        e => panic!("unexpected {e:?}"),
    }
    assert!(events.try_recv().is_err());
}

fn etcd_factory(endpoint: String, cluster: &str, ttl: Duration) -> Factory {
    let cluster = cluster.to_string();
    Box::new(move || {
        etcd_driver(
            std::slice::from_ref(&endpoint),
            &cluster,
            EtcdOptions {
                ttl,
                timeout: Duration::from_secs(2),
            },
        )
        .unwrap()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn etcd_driver_membership_order_and_liveness() {
    let etcd = Etcd::start().await;
    let f = etcd_factory(etcd.endpoint(), "t1", Duration::from_secs(2));
    let ms = three_members(&f, 7200).await;
    total_order(&ms, 30).await;
    let ms = crash_is_seen(ms, Duration::from_secs(10)).await;
    let late = Member::join(f(), 7210).await;
    wait_for("late join", Duration::from_secs(5), || {
        ms[0].joins().last() == Some(&7210)
    })
    .await;
    let ports: Vec<u16> = late.driver.members().iter().map(|n| n.nid.port).collect();
    assert_eq!(ports, vec![7200, 7210]);
    drop(etcd);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn etcd_restart_evicts_nobody() {
    let mut etcd = Etcd::start().await;
    let f = etcd_factory(etcd.endpoint(), "t2", Duration::from_secs(6));
    let ms = three_members(&f, 7300).await;
    total_order(&ms, 5).await;
    etcd.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    etcd.spawn().await;
    // Events resume: a new round of concurrent notifies is totally ordered.
    total_order(&ms, 10).await;
    // Wait past a full TTL after the restart: nobody was evicted.
    tokio::time::sleep(Duration::from_secs(7)).await;
    for m in &ms {
        assert!(m.leaves().is_empty(), "evicted: {:?}", m.leaves());
        assert_eq!(m.driver.members().len(), 3);
    }
    // And liveness still works after the restart.
    let ms = crash_is_seen(ms, Duration::from_secs(15)).await;
    assert_eq!(ms.len(), 1);
}
