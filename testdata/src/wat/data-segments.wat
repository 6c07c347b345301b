;; A core module that covers every way a data segment can be encoded, for
;; tests that split data segments out of a module and put them back.
;;
;; Segment kinds as the flags field of the WebAssembly 2.0 binary format
;; encodes them:
;;   0 = active, memory 0 implied, offset expression follows
;;   1 = passive, bytes only
;;   2 = active, explicit memory index, then offset expression
;;
;; Assemble with: wat2wasm --enable-multi-memory --enable-memory64
;;                --enable-extended-const data-segments.wat
(module
  ;; An imported immutable global, because constant expressions in
  ;; WebAssembly 2.0 may read only imported globals.
  (import "env" "base" (global $base i32))

  ;; Three memories: two 32-bit ones and one 64-bit one (memory64).
  (memory $main 1)
  (memory $side 1 2)
  (memory $wide i64 1)

  ;; Kind 0: active in memory 0 at a constant offset.
  (data $greeting (i32.const 0) "hello, data segment\00")

  ;; Kind 1: passive, copied in by $init_passive with memory.init.
  (data $passive "passive bytes that memory.init copies on request")

  ;; Kind 2: active in memory 1, so the memory index is written out.
  (data $side_table (memory $side) (i32.const 16) "\01\02\03\04\05\06\07\08")

  ;; Kind 2 in a 64-bit memory, so the offset is an i64.const.
  (data $wide_block (memory $wide) (i64.const 65536) "memory64 segment at 0x10000")

  ;; Kind 0 whose offset is read from the imported global.
  (data $at_base (global.get $base) "placed at env.base")

  ;; Kind 2 with an extended constant offset: env.base + 32 in memory 1.
  (data $after_base (memory $side) (i32.add (global.get $base) (i32.const 32)) "placed at env.base + 32")

  ;; An empty active segment, which is valid and has a zero-length payload.
  (data $empty (i32.const 4096) "")

  (func $init_passive (export "init_passive") (param $dest i32)
    ;; memory.init and data.drop make wat2wasm write a data count section.
    (memory.init $main $passive (local.get $dest) (i32.const 0) (i32.const 8))
    (data.drop $passive))

  (func $load_side (export "load_side") (param $address i32) (result i32)
    (i32.load8_u $side (local.get $address)))

  (func $load_wide (export "load_wide") (param $address i64) (result i64)
    (i64.load $wide (local.get $address)))

  (export "main" (memory $main))
  (export "side" (memory $side))
  (export "wide" (memory $wide)))
