// A counter whose state survives upgrades (enhanced orthogonal
// persistence keeps every variable of a persistent actor), with a
// certified label; each increment is logged.
import Prim "mo:⛔";

persistent actor Counter {
  var count : Nat = 0;
  var label_ : Text = "";

  public func increment() : async Nat {
    count += 1;
    Prim.debugPrint("count is now " # debug_show count);
    count
  };

  public query func get() : async Nat { count };

  public func set_label(text : Text) : async () {
    label_ := text;
    Prim.setCertifiedData(Prim.encodeUtf8(text));
  };

  public query func get_label() : async Text { label_ };
};
