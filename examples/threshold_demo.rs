//! Deals a 3-of-5 threshold BLS key (min-sig, as the Internet Computer uses),
//! has three nodes sign, shows a bad share being named, combines, and
//! verifies the result under the group public key.
//!
//! Run with `cargo run --release --example threshold_demo`.

use std::time::Instant;

use chainkey::crypto::threshold::deal;
use chainkey::crypto::{Ciphersuite, Error, MinSig};

fn main() -> Result<(), Error> {
    let suite = Ciphersuite::<MinSig>::basic();
    let mut rng = rand::thread_rng();

    let started = Instant::now();
    let (commitment, key_shares) = deal::<MinSig, _>(3, 5, &mut rng)?;
    println!("dealt a 3-of-5 key in {:.2?}", started.elapsed());
    println!(
        "  group public key (G2, 96 bytes): {}",
        hex(&commitment.public_key().to_bytes())
    );

    let message = b"random beacon for height 1";
    let mut shares: Vec<_> = [0, 2, 4]
        .iter()
        .map(|&node| suite.sign_share(&key_shares[node], message))
        .collect();
    for share in &shares {
        println!(
            "node {} signed: {}",
            share.index,
            hex(&share.signature.to_bytes())
        );
    }

    // A faulty node: node 3 signs a different message.
    let mut faulty = shares.clone();
    faulty[1] = suite.sign_share(&key_shares[2], b"something else");
    match suite.combine(&commitment, message, &faulty) {
        Err(Error::InvalidShares(indices)) => {
            println!("combining with a bad share fails and names it: {indices:?}")
        }
        other => println!("unexpected result with a bad share: {other:?}"),
    }

    let started = Instant::now();
    let signature = suite.combine(&commitment, message, &shares)?;
    println!(
        "combined 3 verified shares in {:.2?}: {}",
        started.elapsed(),
        hex(&signature.to_bytes())
    );

    suite.verify(&commitment.public_key(), message, &signature)?;
    println!("the combined signature verifies under the group public key");

    shares.truncate(2);
    match suite.combine(&commitment, message, &shares) {
        Err(error) => println!("two shares are refused: {error}"),
        Ok(_) => println!("two shares unexpectedly combined"),
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
