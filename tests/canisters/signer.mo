// Signs with the subnet's chain-key ECDSA key through the management
// canister, as a canister on the Internet Computer would.
persistent actor Signer {
  type KeyId = { curve : { #secp256k1 }; name : Text };

  transient let ic : actor {
    ecdsa_public_key : ({
      canister_id : ?Principal;
      derivation_path : [Blob];
      key_id : KeyId;
    }) -> async ({ public_key : Blob; chain_code : Blob });
    sign_with_ecdsa : ({
      message_hash : Blob;
      derivation_path : [Blob];
      key_id : KeyId;
    }) -> async ({ signature : Blob });
  } = actor "aaaaa-aa";

  transient let key_id : KeyId = { curve = #secp256k1; name = "key_1" };

  public func public_key(path : [Blob]) : async Blob {
    let reply = await ic.ecdsa_public_key({
      canister_id = null;
      derivation_path = path;
      key_id;
    });
    reply.public_key
  };

  // The fee of key_1 on the IC is 26_153_846_153 cycles; what is not
  // used comes back.
  public func sign(message_hash : Blob, path : [Blob]) : async Blob {
    let reply = await (with cycles = 30_000_000_000) ic.sign_with_ecdsa({
      message_hash;
      derivation_path = path;
      key_id;
    });
    reply.signature
  };
};
