//! Adversarial bytes against every decoder of network input: none may panic,
//! and whatever decodes must re-encode to the same bytes (one encoding per
//! value, so two nodes never disagree about what a peer sent).

use futures::executor::block_on;
use futures::io::Cursor;
use kp_network::codec::{read_frame, SyncRequest, REQUEST_BYTES};
use proptest::prelude::*;

proptest! {
    #[test]
    fn sync_requests_decode_only_from_exactly_twelve_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        match SyncRequest::from_bytes(&bytes) {
            Some(request) => {
                prop_assert_eq!(bytes.len(), REQUEST_BYTES);
                prop_assert_eq!(request.to_bytes().to_vec(), bytes);
            }
            None => prop_assert_ne!(bytes.len(), REQUEST_BYTES),
        }
    }

    #[test]
    fn frames_never_exceed_their_bound(bytes in proptest::collection::vec(any::<u8>(), 0..512), bound in 0usize..256) {
        let result = block_on(read_frame(&mut Cursor::new(bytes.clone()), bound));
        if let Ok(body) = result {
            prop_assert!(body.len() <= bound);
            let declared = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
            prop_assert_eq!(declared, body.len());
            prop_assert_eq!(&bytes[4..4 + body.len()], &body[..]);
        }
    }
}
