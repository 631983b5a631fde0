//! Block sync between in-process swarms on 127.0.0.1: requests, answers,
//! their limits, and requests nobody answers. Same rules as `network.rs`:
//! no test asserts on timing.

mod common;
use common::*;

/// Two connected nodes with the given response limits.
async fn sync_pair(a_response_max: usize, b_response_max: usize) -> (Node, Node) {
    sync_pair_with(a_response_max, b_response_max, 64).await
}

async fn sync_pair_with(
    a_response_max: usize,
    b_response_max: usize,
    a_pending_max: usize,
) -> (Node, Node) {
    let both = [40u8, 41];
    let mut a_config = config(40, &both);
    a_config.response_bytes_max = a_response_max;
    a_config.pending_requests_max = a_pending_max;
    let a = spawn(a_config).await;
    let mut b_config = config(41, &both);
    b_config.response_bytes_max = b_response_max;
    b_config.bootstrap = vec![a.address.clone()];
    let b = spawn(b_config).await;
    wait_until("b is connected to a", || async {
        connected(&b.client).await.contains(&a.key)
    })
    .await;
    (a, b)
}

/// Answers the next block request on `node` with `bytes`; returns what was
/// asked and how the answer went.
async fn answer_next_request(
    node: &mut Node,
    bytes: Vec<u8>,
) -> ((PublicKey, u64, u32), Result<(), NetworkError>) {
    let receive = async {
        loop {
            match node.events.recv().await.expect("event stream open") {
                NetEvent::BlockRequest {
                    from,
                    from_height,
                    max,
                    handle,
                } => return ((from, from_height, max), handle),
                _ => continue,
            }
        }
    };
    let (asked, handle) = timeout(WAIT, receive)
        .await
        .expect("timed out waiting for a request");
    (asked, node.client.respond_blocks(handle, bytes).await)
}

#[tokio::test]
async fn block_sync_round_trip() {
    let (mut a, b) = sync_pair(1 << 20, 1 << 20).await;
    let requester = b.client.clone();
    let a_key = a.key;
    let request = tokio::spawn(async move { requester.request_blocks(a_key, 5, 10).await });
    let blocks = vec![0xAB; 200_000];
    let (asked, answered) = answer_next_request(&mut a, blocks.clone()).await;
    assert_eq!(asked, (b.key, 5, 10));
    answered.expect("response sent");
    let response = request.await.expect("task").expect("response");
    assert_eq!(response, blocks);
}

#[tokio::test]
async fn oversized_response_is_refused_by_the_requester() {
    // a may send up to 1 MiB, b accepts only 1 KiB.
    let (mut a, b) = sync_pair(1 << 20, 1024).await;
    let requester = b.client.clone();
    let a_key = a.key;
    let request = tokio::spawn(async move { requester.request_blocks(a_key, 0, 1).await });
    let (_, answered) = answer_next_request(&mut a, vec![1u8; 4096]).await;
    answered.expect("a sends within its own limit");
    let result = request.await.expect("task");
    assert!(
        matches!(result, Err(NetworkError::Request { peer, .. }) if peer == a.key),
        "{result:?}"
    );

    // The responder refuses to send over its own limit, without touching the
    // network; the requester then fails instead of hanging.
    let requester = b.client.clone();
    let request = tokio::spawn(async move { requester.request_blocks(a_key, 0, 1).await });
    let (_, answered) = answer_next_request(&mut a, vec![1u8; (1 << 20) + 1]).await;
    assert!(
        matches!(answered, Err(NetworkError::MessageTooLarge { .. })),
        "{answered:?}"
    );
    assert!(request.await.expect("task").is_err());
}

#[tokio::test]
async fn one_peer_cannot_hold_every_request_slot() {
    // 4 slots on a: one peer may hold one of them.
    let (mut a, b) = sync_pair_with(1 << 20, 1 << 20, 4).await;
    let a_key = a.key;
    let requester = b.client.clone();
    let first = tokio::spawn(async move { requester.request_blocks(a_key, 1, 1).await });
    let receive = async {
        loop {
            if let NetEvent::BlockRequest {
                from_height,
                handle,
                ..
            } = a.events.recv().await.expect("open")
            {
                return (from_height, handle);
            }
        }
    };
    let (height, handle) = timeout(WAIT, receive).await.expect("first request arrives");
    assert_eq!(height, 1);

    // While the first is pending, a second from the same peer is refused.
    let second = b.client.request_blocks(a_key, 2, 1).await;
    assert!(
        matches!(second, Err(NetworkError::Request { .. })),
        "{second:?}"
    );

    a.client
        .respond_blocks(handle, b"first".to_vec())
        .await
        .expect("answer");
    assert_eq!(
        first.await.expect("task").expect("response"),
        b"first".to_vec()
    );
}

#[tokio::test]
async fn unanswered_request_fails_instead_of_hanging() {
    let (mut a, mut b) = sync_pair(1 << 20, 1 << 20).await;
    // Short timeout on the requester; a receives the request and sits on it.
    drop(b);
    let mut b_config = config(41, &[40, 41]);
    b_config.bootstrap = vec![a.address.clone()];
    b_config.request_timeout = Duration::from_millis(500);
    b = spawn(b_config).await;
    wait_until("b is connected to a", || async {
        connected(&b.client).await.contains(&a.key)
    })
    .await;
    let result = b.client.request_blocks(a.key, 1, 1).await;
    assert!(
        matches!(result, Err(NetworkError::Request { .. })),
        "{result:?}"
    );

    // The request did reach a. Answering it late either fails or goes to a
    // stream nobody reads; either way it must not be taken for the answer to
    // the next request.
    let receive = async {
        loop {
            if let NetEvent::BlockRequest { handle, .. } = a.events.recv().await.expect("open") {
                return handle;
            }
        }
    };
    let handle = timeout(WAIT, receive).await.expect("request arrived");
    let late = a.client.respond_blocks(handle, b"late".to_vec()).await;
    assert!(
        late.is_ok() || matches!(late, Err(NetworkError::RequestGone)),
        "{late:?}"
    );

    let requester = b.client.clone();
    let a_key = a.key;
    let request = tokio::spawn(async move { requester.request_blocks(a_key, 2, 1).await });
    let (asked, answered) = answer_next_request(&mut a, b"on time".to_vec()).await;
    assert_eq!(asked, (b.key, 2, 1));
    answered.expect("answer sent");
    assert_eq!(
        request.await.expect("task").expect("response"),
        b"on time".to_vec()
    );
}
