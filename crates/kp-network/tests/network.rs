//! In-process swarms on 127.0.0.1 with OS-assigned ports.
//!
//! No test asserts on timing: every wait is "until this observable state is
//! reached", wrapped in a generous timeout so that a broken build fails
//! instead of hanging. Absence (an outsider's message never delivered) is
//! checked against a later positive event on the same path, after a counter
//! shows that the refused thing really reached the node.
//!
//! Block sync (requests and answers) is tested in `sync.rs`.

mod common;
use common::*;

// On the multi-thread runtime, as in the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_nodes_in_a_line_all_receive_every_message() {
    // 0 - 1 - 2 - 3: messages from an end must be forwarded twice, so this
    // only passes when the mesh parameters suit a 4-node network. Discovery
    // is off so that the line stays a line.
    let everyone = [0u8, 1, 2, 3];
    let mut nodes = Vec::new();
    for index in everyone {
        let mut config = config(index, &everyone);
        config.discovery = false;
        if let Some(previous) = nodes.last() {
            let previous: &Node = previous;
            config.bootstrap = vec![previous.address.clone()];
        }
        nodes.push(spawn(config).await);
    }
    for index in 0..nodes.len() {
        let neighbours: Vec<PublicKey> = [index.checked_sub(1), Some(index + 1)]
            .into_iter()
            .flatten()
            .filter(|i| *i < nodes.len())
            .map(|i| nodes[i].key)
            .collect();
        let client = nodes[index].client.clone();
        wait_until("each node's mesh holds its neighbours", || {
            mesh_has(&client, Topic::Consensus, neighbours.clone())
        })
        .await;
    }

    let from_first = b"vote from node 0".to_vec();
    let from_last = b"vote from node 3".to_vec();
    publish(&nodes[0].client, Topic::Consensus, &from_first).await;
    publish(&nodes[3].client, Topic::Consensus, &from_last).await;

    for (index, node) in nodes.iter_mut().enumerate() {
        let mut wanted = Vec::new();
        if index != 0 {
            wanted.push((from_first.clone(), public(0)));
        }
        if index != 3 {
            wanted.push((from_last.clone(), public(3)));
        }
        tracing::info!(index, "waiting for the other ends' messages");
        receive_all(&mut node.events, Topic::Consensus, wanted).await;
    }
    for node in &nodes {
        node.client.shutdown().await.expect("shutdown");
    }
}

#[tokio::test]
async fn topics_stay_apart() {
    let both = [0u8, 1];
    let a = spawn(config(0, &both)).await;
    let mut b_config = config(1, &both);
    b_config.bootstrap = vec![a.address.clone()];
    let mut b = spawn(b_config).await;
    wait_until("b's mesh holds a", || {
        mesh_has(&b.client, Topic::Blocks, vec![a.key])
    })
    .await;

    publish(&a.client, Topic::Transactions, b"a transaction").await;
    publish(&a.client, Topic::Blocks, b"a block").await;
    let mut seen = Vec::new();
    let topic = next_matching(
        &mut b.events,
        |event| match event {
            NetEvent::Gossip { topic, bytes, .. } if bytes == b"a block" => Some(*topic),
            _ => None,
        },
        |event| {
            if let NetEvent::Gossip { topic, bytes, .. } = event {
                seen.push((*topic, bytes.clone()));
            }
        },
    )
    .await;
    assert_eq!(topic, Topic::Blocks);
    for (topic, bytes) in seen {
        assert_eq!(
            (topic, bytes.as_slice()),
            (Topic::Transactions, &b"a transaction"[..])
        );
    }
}

#[tokio::test]
async fn outsider_is_refused_and_its_gossip_never_delivered() {
    // a allows {a, b}. b is misconfigured and also allows x, so x's messages
    // reach a through b: a must reject them by author.
    // Discovery is off so that the only gossip x sends is the transaction
    // (a would also reject x's address record).
    let (a_id, b_id, x_id) = (10u8, 11u8, 12u8);
    let mut a_config = config(a_id, &[a_id, b_id]);
    a_config.discovery = false;
    let mut a = spawn(a_config).await;
    let mut b_config = config(b_id, &[a_id, b_id, x_id]);
    b_config.bootstrap = vec![a.address.clone()];
    b_config.discovery = false;
    let mut b = spawn(b_config).await;
    let mut x_config = config(x_id, &[a_id, b_id, x_id]);
    x_config.bootstrap = vec![b.address.clone()];
    x_config.discovery = false;
    let x = spawn(x_config).await;

    // x dials a directly: refused during the handshake.
    x.client.dial(a.address.clone()).await.expect("dial starts");
    wait_until("a refuses x", || async {
        a.client.stats().await.expect("stats").connections_denied >= 1
    })
    .await;
    assert!(!connected(&a.client).await.contains(&x.key));
    assert_eq!(connected(&a.client).await, vec![b.key]);

    // x's gossip travels x -> b -> a.
    wait_until("b's mesh holds a", || {
        mesh_has(&b.client, Topic::Transactions, vec![a.key])
    })
    .await;
    wait_until("x is connected to b", || async {
        connected(&x.client).await.contains(&b.key)
    })
    .await;
    let intruder = b"transaction from an outsider".to_vec();
    publish(&x.client, Topic::Transactions, &intruder).await;
    assert_eq!(
        gossip_from(&mut b.events, Topic::Transactions, &intruder).await,
        x.key
    );
    wait_until("a rejects x's message", || async {
        a.client.stats().await.expect("stats").gossip_rejected >= 1
    })
    .await;

    // A later message on the same path arrives; x's never did.
    let honest = b"transaction from b".to_vec();
    publish(&b.client, Topic::Transactions, &honest).await;
    let mut delivered = Vec::new();
    let author = next_matching(
        &mut a.events,
        |event| match event {
            NetEvent::Gossip { from, bytes, .. } if *bytes == honest => Some(*from),
            _ => None,
        },
        |event| {
            if let NetEvent::Gossip { from, bytes, .. } = event {
                delivered.push((*from, bytes.clone()));
            }
        },
    )
    .await;
    assert_eq!(author, b.key);
    assert!(delivered
        .iter()
        .all(|(from, bytes)| *from != x.key && *bytes != intruder));
    assert!(!connected(&a.client).await.contains(&x.key));
}

#[tokio::test]
async fn set_allowed_removing_a_peer_disconnects_it() {
    let all = [20u8, 21, 22];
    let mut a = spawn(config(20, &all)).await;
    let mut b_config = config(21, &all);
    b_config.bootstrap = vec![a.address.clone()];
    let b = spawn(b_config).await;
    let mut c_config = config(22, &all);
    c_config.bootstrap = vec![a.address.clone()];
    let c = spawn(c_config).await;
    wait_until("a is connected to b and c", || async {
        connected(&a.client).await.len() == 2
    })
    .await;

    a.client
        .set_allowed(vec![public(20), public(21)])
        .await
        .expect("set_allowed");
    let gone = next_matching(
        &mut a.events,
        |event| match event {
            NetEvent::PeerDisconnected(key) => Some(*key),
            _ => None,
        },
        |_| {},
    )
    .await;
    assert_eq!(gone, c.key);
    assert_eq!(connected(&a.client).await, vec![b.key]);

    // c keeps redialing its bootstrap peer; a keeps refusing.
    let denied_before = a.client.stats().await.expect("stats").connections_denied;
    wait_until("a refuses c's redial", || async {
        a.client.stats().await.expect("stats").connections_denied > denied_before
    })
    .await;
    assert_eq!(connected(&a.client).await, vec![b.key]);

    // Allowed again: c's next redial gets in.
    a.client
        .set_allowed(vec![public(20), public(21), public(22)])
        .await
        .expect("set_allowed");
    wait_until("c reconnects", || async {
        connected(&a.client).await.contains(&c.key)
    })
    .await;
}

#[tokio::test]
async fn set_allowed_with_an_invalid_key_changes_nothing() {
    let a = spawn(config(30, &[30, 31])).await;
    // y = 2 does not decode to a curve point.
    let mut bad = [0u8; 32];
    bad[0] = 2;
    let result = a.client.set_allowed(vec![public(31), PublicKey(bad)]).await;
    assert!(matches!(result, Err(NetworkError::InvalidNodeKey { .. })));
}

#[tokio::test]
async fn oversized_gossip_is_refused() {
    // a is misconfigured with a larger limit than b and c.
    let all = [50u8, 51, 52];
    let mut a_config = config(50, &all);
    a_config.message_bytes_max = 128 * 1024;
    let a = spawn(a_config).await;
    let mut b_config = config(51, &all);
    b_config.message_bytes_max = 4 * 1024;
    b_config.bootstrap = vec![a.address.clone()];
    let mut b = spawn(b_config).await;
    let mut c_config = config(52, &all);
    c_config.message_bytes_max = 4 * 1024;
    c_config.bootstrap = vec![a.address.clone(), b.address.clone()];
    let c = spawn(c_config).await;
    wait_until("b's mesh holds a and c", || {
        mesh_has(&b.client, Topic::Blocks, vec![a.key, c.key])
    })
    .await;

    // Over the publisher's own limit: refused locally.
    let result = b.client.publish(Topic::Blocks, vec![0; 4 * 1024 + 1]).await;
    assert!(
        matches!(result, Err(NetworkError::MessageTooLarge { .. })),
        "{result:?}"
    );

    // Within a's limit but over b's and c's: judged and rejected (neither
    // delivered nor forwarded).
    let big = vec![7u8; 20 * 1024];
    publish(&a.client, Topic::Blocks, &big).await;
    wait_until("b rejects the big message", || async {
        b.client.stats().await.expect("stats").gossip_rejected >= 1
    })
    .await;
    // Over even the frame limit: b's transport refuses the frame undecoded.
    let huge = vec![8u8; 60 * 1024 + 10 * 1024];
    publish(&a.client, Topic::Blocks, &huge).await;
    // A later message reaches b by another path; the big one never did.
    let small = b"small block from c".to_vec();
    publish(&c.client, Topic::Blocks, &small).await;
    let mut delivered_big = false;
    let author = next_matching(
        &mut b.events,
        |event| match event {
            NetEvent::Gossip { from, bytes, .. } if *bytes == small => Some(*from),
            _ => None,
        },
        |event| {
            if let NetEvent::Gossip { bytes, .. } = event {
                delivered_big |= *bytes == big || *bytes == huge;
            }
        },
    )
    .await;
    assert_eq!(author, c.key);
    assert!(!delivered_big);
    // Refusing a frame does not cost the connection.
    assert!(connected(&b.client).await.contains(&a.key));
}

#[tokio::test]
async fn bootstrap_peer_is_redialed_after_a_restart() {
    let both = [60u8, 61];
    let a = spawn(config(60, &both)).await;
    let a_address = a.address.clone();
    let mut b_config = config(61, &both);
    b_config.bootstrap = vec![a_address.clone()];
    let mut b = spawn(b_config).await;
    wait_until("b is connected to a", || async {
        connected(&b.client).await.contains(&a.key)
    })
    .await;

    a.client.shutdown().await.expect("shutdown");
    let gone = next_matching(
        &mut b.events,
        |event| match event {
            NetEvent::PeerDisconnected(key) => Some(*key),
            _ => None,
        },
        |_| {},
    )
    .await;
    assert_eq!(gone, a.key);
    assert!(matches!(
        a.client.connected_peers().await,
        Err(NetworkError::Stopped)
    ));

    // Same key, same address (the port a had been given).
    let mut a_again_config = config(60, &both);
    a_again_config.listen = a_address;
    let a_again = spawn(a_again_config).await;
    let back = next_matching(
        &mut b.events,
        |event| match event {
            NetEvent::PeerConnected(key) => Some(*key),
            _ => None,
        },
        |_| {},
    )
    .await;
    assert_eq!(back, a_again.key);
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused() {
    let all = [70u8, 71, 72];
    let mut a_config = config(70, &all);
    a_config.connections_max = 1;
    let a = spawn(a_config).await;
    let mut b_config = config(71, &all);
    b_config.bootstrap = vec![a.address.clone()];
    let b = spawn(b_config).await;
    wait_until("a is connected to b", || async {
        connected(&a.client).await == vec![b.key]
    })
    .await;

    let c = spawn(config(72, &all)).await;
    c.client.dial(a.address.clone()).await.expect("dial starts");
    wait_until("a refuses c", || async {
        a.client.stats().await.expect("stats").connections_denied >= 1
    })
    .await;
    assert_eq!(connected(&a.client).await, vec![b.key]);
}

#[tokio::test]
async fn a_slow_node_loses_events_but_the_loop_keeps_running() {
    let both = [80u8, 81];
    let mut a_config = config(80, &both);
    a_config.event_queue = std::num::NonZeroUsize::MIN;
    let mut a = spawn(a_config).await;
    let mut b_config = config(81, &both);
    b_config.bootstrap = vec![a.address.clone()];
    let b = spawn(b_config).await;
    wait_until("b's mesh holds a", || {
        mesh_has(&b.client, Topic::Transactions, vec![a.key])
    })
    .await;

    // a does not read its events; the queue (capacity 1) overflows.
    let mut sent = 0u32;
    wait_until("a drops an event", || {
        sent += 1;
        let bytes = format!("transaction {sent}").into_bytes();
        let (a, b) = (a.client.clone(), b.client.clone());
        async move {
            publish(&b, Topic::Transactions, &bytes).await;
            a.stats()
                .await
                .expect("a answers while its queue is full")
                .events_dropped
                >= 1
        }
    })
    .await;

    // Once a catches up, new messages arrive again.
    while a.events.try_recv().is_ok() {}
    let after = b"transaction after catching up".to_vec();
    publish(&b.client, Topic::Transactions, &after).await;
    assert_eq!(
        gossip_from(&mut a.events, Topic::Transactions, &after).await,
        b.key
    );
}

#[tokio::test]
async fn members_find_each_other_beyond_their_bootstrap_list() {
    // Each node knows only the previous one; address records do the rest.
    let everyone = [90u8, 91, 92, 93];
    let mut nodes: Vec<Node> = Vec::new();
    for index in everyone {
        let mut config = config(index, &everyone);
        config.announce_interval = Duration::from_secs(1);
        if let Some(previous) = nodes.last() {
            config.bootstrap = vec![previous.address.clone()];
        }
        nodes.push(spawn(config).await);
    }
    for node in &nodes {
        let others: Vec<PublicKey> = nodes
            .iter()
            .map(|other| other.key)
            .filter(|key| *key != node.key)
            .collect();
        let client = node.client.clone();
        wait_until("every node is connected to every other", || {
            let (client, others) = (client.clone(), others.clone());
            async move {
                let peers = connected(&client).await;
                others.iter().all(|key| peers.contains(key))
            }
        })
        .await;
    }
}

#[tokio::test]
async fn an_outsider_record_does_not_make_members_dial_it() {
    // b allows x (misconfigured) and relays x's address record to a; a must
    // neither connect to x nor count it as a peer.
    let (a_id, b_id, x_id) = (95u8, 96u8, 97u8);
    let mut a_config = config(a_id, &[a_id, b_id]);
    a_config.announce_interval = Duration::from_secs(1);
    let a = spawn(a_config).await;
    let mut b_config = config(b_id, &[a_id, b_id, x_id]);
    b_config.bootstrap = vec![a.address.clone()];
    b_config.announce_interval = Duration::from_secs(1);
    let b = spawn(b_config).await;
    let mut x_config = config(x_id, &[a_id, b_id, x_id]);
    x_config.bootstrap = vec![b.address.clone()];
    x_config.announce_interval = Duration::from_secs(1);
    let x = spawn(x_config).await;

    wait_until("a rejects x's address record", || async {
        a.client.stats().await.expect("stats").gossip_rejected >= 1
    })
    .await;
    // x learned a's address from a's record and dialed it: refused.
    wait_until("a refuses x", || async {
        a.client.stats().await.expect("stats").connections_denied >= 1
    })
    .await;
    assert_eq!(connected(&a.client).await, vec![b.key]);
    assert!(!connected(&x.client).await.contains(&a.key));
}

#[tokio::test]
async fn a_lonely_node_reports_no_peers_and_unreachable_requests() {
    let a = spawn(config(100, &[100, 101])).await;
    let result = a.client.publish(Topic::Consensus, b"vote".to_vec()).await;
    assert!(
        matches!(
            result,
            Err(NetworkError::NoPeers {
                topic: Topic::Consensus
            })
        ),
        "{result:?}"
    );
    // A member we have no address for: the request fails, it does not hang.
    let result = a.client.request_blocks(public(101), 0, 1).await;
    assert!(
        matches!(result, Err(NetworkError::Request { .. })),
        "{result:?}"
    );
    assert!(connected(&a.client).await.is_empty());
}

#[tokio::test]
async fn bad_configs_are_refused_at_start() {
    let mut bad_limit = config(110, &[110]);
    bad_limit.message_bytes_max = 0;
    assert!(matches!(
        start(bad_limit).await,
        Err(NetworkError::InvalidConfig {
            field: "message_bytes_max",
            ..
        })
    ));
    let mut bad_key = config(110, &[110]);
    let mut off_curve = [0u8; 32];
    off_curve[0] = 2;
    bad_key.allowed.push(PublicKey(off_curve));
    assert!(matches!(
        start(bad_key).await,
        Err(NetworkError::InvalidNodeKey { .. })
    ));
}

#[tokio::test]
async fn after_shutdown_every_call_fails_with_stopped() {
    let a = spawn(config(120, &[120])).await;
    a.client.shutdown().await.expect("shutdown");
    wait_until("the loop has stopped", || async {
        matches!(a.client.stats().await, Err(NetworkError::Stopped))
    })
    .await;
    assert!(matches!(
        a.client.publish(Topic::Blocks, vec![1]).await,
        Err(NetworkError::Stopped)
    ));
    assert!(matches!(
        a.client.set_allowed(vec![]).await,
        Err(NetworkError::Stopped)
    ));
}

#[tokio::test]
async fn a_burst_of_transactions_leaves_room_for_votes() {
    let both = [130u8, 131];
    let mut a_config = config(130, &both);
    a_config.event_queue = std::num::NonZeroUsize::new(8).expect("non-zero");
    a_config.discovery = false;
    let mut a = spawn(a_config).await;
    let mut b_config = config(131, &both);
    b_config.bootstrap = vec![a.address.clone()];
    b_config.discovery = false;
    let b = spawn(b_config).await;
    wait_until("b's mesh holds a", || {
        mesh_has(&b.client, Topic::Transactions, vec![a.key])
    })
    .await;
    // Clear the connection event so the queue starts empty.
    while a.events.try_recv().is_ok() {}

    // a does not read while b sends 20 transactions, then one vote.
    for index in 0..20u32 {
        publish(&b.client, Topic::Transactions, &index.to_be_bytes()).await;
    }
    publish(&b.client, Topic::Consensus, b"vote").await;
    wait_until("a dropped some transactions", || async {
        a.client.stats().await.expect("stats").events_dropped >= 1
    })
    .await;

    let mut transactions = 0;
    let receive = async {
        loop {
            match a.events.recv().await.expect("open") {
                NetEvent::Gossip {
                    topic: Topic::Consensus,
                    bytes,
                    ..
                } => return bytes,
                NetEvent::Gossip {
                    topic: Topic::Transactions,
                    ..
                } => transactions += 1,
                _ => {}
            }
        }
    };
    let vote = timeout(WAIT, receive).await.expect("the vote arrives");
    assert_eq!(vote, b"vote".to_vec());
    // 8 slots, 2 reserved: at most 6 transactions were queued ahead of the vote.
    assert!(transactions <= 6, "{transactions} transactions queued");
}

#[tokio::test]
async fn a_flooding_author_is_throttled() {
    let both = [140u8, 141];
    let mut a_config = config(140, &both);
    a_config.gossip_per_author_per_second = 1;
    a_config.gossip_per_author_burst = 5;
    a_config.discovery = false;
    let mut a = spawn(a_config).await;
    let mut b_config = config(141, &both);
    b_config.bootstrap = vec![a.address.clone()];
    b_config.discovery = false;
    let b = spawn(b_config).await;
    wait_until("b's mesh holds a", || {
        mesh_has(&b.client, Topic::Transactions, vec![a.key])
    })
    .await;

    for index in 0..30u32 {
        publish(&b.client, Topic::Transactions, &index.to_be_bytes()).await;
    }
    wait_until("a throttles b", || async {
        a.client.stats().await.expect("stats").gossip_throttled >= 1
    })
    .await;
    let stats = a.client.stats().await.expect("stats");
    let mut delivered = 0u64;
    while let Ok(event) = a.events.try_recv() {
        if let NetEvent::Gossip { .. } = event {
            delivered += 1;
        }
    }
    // The burst (5) got through and the rest only at 1 per second; the exact
    // count depends on how long the 30 publishes took, so only bound it.
    assert!(delivered < 30, "{delivered} delivered");
    assert!(stats.gossip_throttled >= 1);
}

#[tokio::test]
async fn direct_message_reaches_only_its_peer() {
    // a - b - c in a line: a direct message from b to a must reach a, and
    // never c, although c shares every gossip topic with both.
    let all = [50u8, 51, 52];
    let mut a = spawn(config(50, &all)).await;
    let mut b_config = config(51, &all);
    b_config.bootstrap = vec![a.address.clone()];
    let b = spawn(b_config).await;
    let mut c_config = config(52, &all);
    c_config.bootstrap = vec![b.address.clone()];
    let mut c = spawn(c_config).await;
    wait_until("b is connected to a and c", || async {
        let peers = connected(&b.client).await;
        peers.contains(&a.key) && peers.contains(&c.key)
    })
    .await;

    b.client
        .send_to(a.key, b"for a only".to_vec())
        .await
        .expect("sent");
    let from = next_matching(
        &mut a.events,
        |event| match event {
            NetEvent::Direct { from, bytes } if bytes == b"for a only" => Some(*from),
            _ => None,
        },
        |_| {},
    )
    .await;
    assert_eq!(from, b.key);

    // Then a direct message to c; c must see it, and nothing addressed to a
    // before it.
    b.client
        .send_to(c.key, b"for c".to_vec())
        .await
        .expect("sent");
    next_matching(
        &mut c.events,
        |event| match event {
            NetEvent::Direct { bytes, .. } if bytes == b"for c" => Some(()),
            _ => None,
        },
        |event| {
            assert!(
                !matches!(event, NetEvent::Direct { .. }),
                "c received a direct message meant for another peer"
            )
        },
    )
    .await;

    // Too large: refused before anything is sent.
    let huge = vec![0u8; NetworkConfig::new("x", key(1), a.address.clone()).message_bytes_max + 1];
    assert!(matches!(
        b.client.send_to(a.key, huge).await,
        Err(NetworkError::MessageTooLarge { .. })
    ));
    // Not connected: a and c have no connection, and no dial is made for it.
    assert!(matches!(
        a.client.send_to(c.key, b"x".to_vec()).await,
        Err(NetworkError::NotConnected { peer }) if peer == c.key
    ));
}

#[tokio::test]
async fn a_flooding_direct_sender_is_refused() {
    let both = [150u8, 151];
    let mut a_config = config(150, &both);
    a_config.gossip_per_author_per_second = 1;
    a_config.gossip_per_author_burst = 5;
    let mut a = spawn(a_config).await;
    let mut b_config = config(151, &both);
    b_config.bootstrap = vec![a.address.clone()];
    let b = spawn(b_config).await;
    wait_until("b is connected to a", || async {
        connected(&b.client).await.contains(&a.key)
    })
    .await;

    for index in 0..30u32 {
        b.client
            .send_to(a.key, index.to_be_bytes().to_vec())
            .await
            .expect("sent");
    }
    wait_until("a refuses b", || async {
        a.client.stats().await.expect("stats").direct_refused >= 1
    })
    .await;
    let mut delivered = 0u64;
    while let Ok(event) = a.events.try_recv() {
        if let NetEvent::Direct { from, .. } = event {
            assert_eq!(from, b.key);
            delivered += 1;
        }
    }
    // The burst (5) got through and the rest only at 1 per second.
    assert!(delivered < 30, "{delivered} delivered");
}

#[tokio::test]
async fn direct_message_to_each_reaches_the_connected_and_names_the_rest() {
    // b is connected to a and c; d is allowed but runs no node.
    let all = [60u8, 61, 62, 63];
    let mut a = spawn(config(60, &all)).await;
    let mut c = spawn(config(62, &all)).await;
    let mut b_config = config(61, &all);
    b_config.bootstrap = vec![a.address.clone(), c.address.clone()];
    let b = spawn(b_config).await;
    wait_until("b is connected to a and c", || async {
        let peers = connected(&b.client).await;
        peers.contains(&a.key) && peers.contains(&c.key)
    })
    .await;

    let unreached = b
        .client
        .send_to_each(&[a.key, public(63), c.key], b"to each".to_vec())
        .await
        .expect("sent");
    assert_eq!(unreached, vec![public(63)]);
    for node in [&mut a, &mut c] {
        let from = next_matching(
            &mut node.events,
            |event| match event {
                NetEvent::Direct { from, bytes } if bytes == b"to each" => Some(*from),
                _ => None,
            },
            |_| {},
        )
        .await;
        assert_eq!(from, b.key);
    }

    // Too large: refused before anything is sent.
    let huge = vec![0u8; NetworkConfig::new("x", key(1), a.address.clone()).message_bytes_max + 1];
    assert!(matches!(
        b.client.send_to_each(&[a.key], huge).await,
        Err(NetworkError::MessageTooLarge { .. })
    ));
    assert_eq!(b.client.stats().await.expect("stats").direct_dropped, 0);
}
