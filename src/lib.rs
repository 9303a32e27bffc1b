pub use chainkey_crypto as crypto;
