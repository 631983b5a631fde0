//! Shared by the network test files: keys, configs, spawned nodes, waits.
#![allow(dead_code, unused_imports)] // each test file uses its own subset

pub use kp_network::{start, Multiaddr, NetClient, NetEvent, NetworkConfig, NetworkError, Topic};
pub use kp_types::{PublicKey, SigningKey};
pub use std::future::Future;
pub use std::time::Duration;
pub use tokio::sync::mpsc;
pub use tokio::time::{sleep, timeout};

pub const WAIT: Duration = Duration::from_secs(30);
pub const POLL: Duration = Duration::from_millis(50);

pub fn key(index: u8) -> SigningKey {
    SigningKey::from_seed([index; 32])
}

pub fn public(index: u8) -> PublicKey {
    key(index).public()
}

pub fn config(index: u8, allowed: &[u8]) -> NetworkConfig {
    let listen = "/ip4/127.0.0.1/tcp/0".parse().expect("address");
    let mut config = NetworkConfig::new("test-chain", key(index), listen);
    config.allowed = allowed.iter().map(|i| public(*i)).collect();
    config.heartbeat = Duration::from_millis(100);
    config.redial_delay_min = Duration::from_millis(100);
    config.redial_delay_max = Duration::from_millis(800);
    config.request_timeout = Duration::from_secs(3);
    config
}

pub struct Node {
    pub client: NetClient,
    pub events: mpsc::Receiver<NetEvent>,
    pub key: PublicKey,
    pub address: Multiaddr,
}

pub async fn spawn(config: NetworkConfig) -> Node {
    // `RUST_LOG=kp_network=debug` shows the network's side of a failure.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let key = config.key.public();
    let (client, events) = start(config).await.expect("network starts");
    let addresses = client.listen_addrs().await.expect("listen addresses");
    let address = addresses.first().cloned().expect("one listen address");
    Node {
        client,
        events,
        key,
        address,
    }
}

/// Polls `check` until it returns true; panics after `WAIT`.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let poll = async {
        while !check().await {
            sleep(POLL).await;
        }
    };
    timeout(WAIT, poll)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting until {what}"));
}

/// Receives events until `pick` returns `Some`, passing every skipped event to
/// `skipped`; panics after `WAIT`.
pub async fn next_matching<T>(
    events: &mut mpsc::Receiver<NetEvent>,
    mut pick: impl FnMut(&NetEvent) -> Option<T>,
    mut skipped: impl FnMut(&NetEvent),
) -> T {
    let receive = async {
        loop {
            let event = events.recv().await.expect("event stream open");
            match pick(&event) {
                Some(found) => return found,
                None => skipped(&event),
            }
        }
    };
    timeout(WAIT, receive)
        .await
        .expect("timed out waiting for an event")
}

pub async fn gossip_from(
    events: &mut mpsc::Receiver<NetEvent>,
    topic: Topic,
    bytes: &[u8],
) -> PublicKey {
    next_matching(
        events,
        |event| match event {
            NetEvent::Gossip {
                topic: t,
                from,
                bytes: b,
            } if *t == topic && b == bytes => Some(*from),
            _ => None,
        },
        |_| {},
    )
    .await
}

/// Receives gossip on `topic` until every `(bytes, author)` in `wanted` has
/// arrived, in any order; panics on a wanted payload from the wrong author.
pub async fn receive_all(
    events: &mut mpsc::Receiver<NetEvent>,
    topic: Topic,
    mut wanted: Vec<(Vec<u8>, PublicKey)>,
) {
    while !wanted.is_empty() {
        let (bytes, from) = next_matching(
            events,
            |event| match event {
                NetEvent::Gossip {
                    topic: t,
                    from,
                    bytes,
                } if *t == topic => Some((bytes.clone(), *from)),
                _ => None,
            },
            |_| {},
        )
        .await;
        if let Some(position) = wanted.iter().position(|(b, _)| *b == bytes) {
            assert_eq!(wanted[position].1, from, "author of {bytes:?}");
            wanted.swap_remove(position);
        }
    }
}

pub async fn connected(client: &NetClient) -> Vec<PublicKey> {
    client.connected_peers().await.expect("loop running")
}

pub async fn mesh_has(client: &NetClient, topic: Topic, keys: Vec<PublicKey>) -> bool {
    let mesh = client.mesh_peers(topic).await.expect("loop running");
    keys.iter().all(|key| mesh.contains(key))
}

/// Publishes until the network accepts the message (peers subscribed).
pub async fn publish(client: &NetClient, topic: Topic, bytes: &[u8]) {
    let attempt = async {
        loop {
            match client.publish(topic, bytes.to_vec()).await {
                Ok(()) => return,
                Err(NetworkError::NoPeers { .. }) => sleep(POLL).await,
                Err(error) => panic!("publish failed: {error}"),
            }
        }
    };
    timeout(WAIT, attempt).await.expect("timed out publishing");
}
