//! # chainkey-node
//!
//! A node of a chainkey subnet: the Internet Computer's consensus, with
//! canister execution, state certification and chain-key signing, around
//! the batch verification engine of [`chainkey_crypto`].
//!
//! ## The data path
//!
//! Follow a user's update call through the folders:
//!
//! 1. **[`api`]** — the HTTP endpoint. `POST /api/v3/canister/…/call` (and
//!    v2, and the older `/api/v1/ingress`) reads a bounded body, checks the
//!    envelope's signatures and delegations in one batch ([`ic::envelope`]),
//!    asks the canister's `canister_inspect_message` and checks that it can
//!    pay ([`execution::ingress_filter`]), and hands the message to the
//!    event loop. Queries, `read_state`, `/status` and `/metrics` are
//!    answered here too, from the latest certified state; each node counts
//!    the queries it answers and reports them in the blocks it makes
//!    ([`query_stats`]).
//! 2. **[`ingress`]** — accepted messages wait in a bounded pool, are
//!    deduplicated and expire; block makers take them into payloads, and
//!    every node validates a proposed payload's messages the same way.
//! 3. **[`replica`]** — the event loop. It drives
//!    [`chainkey_consensus::Consensus`] with what [`net`] receives, a clock
//!    and ingress; it only selects and dispatches, and its decisions —
//!    filling the gap below a catch-up package ([`replica`]'s `gap`),
//!    switching committee at a membership change (`committee`), routing
//!    chain-key work to the signer (`signer_link`), status (`stats`) — are
//!    pure functions with unit tests. What this node signs is stored before
//!    it is sent ([`store`]).
//! 4. **[`net`]** — mutually authenticated TLS between the nodes, one CBOR
//!    frame per [`net::wire::Message`], bounded per-peer queues and rate
//!    limits; small artifacts are pushed, large ones advertised and fetched.
//! 5. **[`execution`]** — finalized blocks, in order, on their own thread:
//!    canisters run in wasmtime under instruction budgets and deterministic
//!    time slicing, pay for everything in cycles, and keep their memory
//!    copy-on-write. Each height ends with a state digest.
//! 6. **[`certification`]** — each node signs every executed height's
//!    state tree root with its share of the subnet's threshold BLS key;
//!    shares combine into the certificate that agents verify under the
//!    subnet's root key.
//! 7. **[`chain_key`]** — threshold ECDSA (`sign_with_ecdsa`): IDKG
//!    transcripts agreed in blocks, presignatures paired with requests,
//!    signature shares combined; and resharing of every key when the
//!    membership changes ([`registry`] holds the membership and the
//!    governance that changes it).
//!
//! Beside the path: [`ic`] holds the IC interface's data types (hash
//! trees, certificates, request ids, principals, envelopes) as pure code;
//! [`config`] and [`genesis`] what a node reads at start and how a new
//! subnet's keys are made; [`cbor`] the one encoding; [`metrics`] the
//! Prometheus metrics; [`local_subnet`] runs a subnet of node processes on
//! one machine, for `chainkey subnet` and the tests.
//!
//! ## Layers
//!
//! Imports point down the list above, never up, with no loops between
//! folders: `api` → `ingress`/`execution`/`certification` → `chain_key` →
//! `registry`/`config` → `ic` → `cbor`. The `replica` sits on top: it
//! drives every stage, and no module of the library imports it.

#![doc = include_str!("../docs/node.md")]
#![warn(missing_docs)]

pub mod api;
pub mod cbor;
pub mod certification;
pub mod chain_key;
pub mod config;
pub mod execution;
pub mod genesis;
pub mod ic;
pub mod ingress;
pub mod local_subnet;
pub mod metrics;
pub mod net;
pub mod payload;
pub mod peer_buffer;
pub mod query_stats;
pub mod registry;
pub mod replica;
pub mod store;
