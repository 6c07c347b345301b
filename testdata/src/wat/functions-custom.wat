;; A core module with several functions, a table, a global and custom
;; sections, for tests that split code and custom sections out of a module
;; and put them back.
;;
;; Assemble with: wat2wasm --enable-annotations --debug-names
;;                functions-custom.wat
;;
;; The custom section named "" is deliberate: an empty name is valid in the
;; binary format and is an edge case for code that keys parts by section
;; name. --debug-names adds a "name" section as compilers emit it.
;;
;; NOTE: wat2wasm 1.0.39 accepts placement clauses such as (after code) but
;; ignores them and writes every @custom section after the last known
;; section, in source order, so the annotations here carry none. The Go
;; generator in scripts/gen-testdata builds custom-placement.wasm, which has
;; custom sections between known sections.
(module
  (@custom "wasmcas.first" "first custom section in source order")
  (@custom "" "custom section with an empty name")
  (@custom "wasmcas.empty-payload" "")
  (@custom "wasmcas.binary" "\00\01\02\03\fe\ff")

  (type $binary (func (param i32 i32) (result i32)))

  (table $operations 4 funcref)
  (elem (table $operations) (i32.const 0) func $add $sub $mul $div_s)

  (global $calls (mut i32) (i32.const 0))

  (func $count
    (global.set $calls (i32.add (global.get $calls) (i32.const 1))))

  (func $add (type $binary)
    (call $count)
    (i32.add (local.get 0) (local.get 1)))

  (func $sub (type $binary)
    (call $count)
    (i32.sub (local.get 0) (local.get 1)))

  (func $mul (type $binary)
    (call $count)
    (i32.mul (local.get 0) (local.get 1)))

  ;; Returns 0 for division by zero so that callers never trap.
  (func $div_s (type $binary)
    (call $count)
    (if (result i32) (i32.eqz (local.get 1))
      (then (i32.const 0))
      (else (i32.div_s (local.get 0) (local.get 1)))))

  ;; Runs the operation at index $op of the table.
  (func $apply (export "apply") (param $op i32) (param $a i32) (param $b i32) (result i32)
    (call_indirect $operations (type $binary) (local.get $a) (local.get $b) (local.get $op)))

  (func $factorial (export "factorial") (param $n i64) (result i64)
    (local $result i64)
    (local.set $result (i64.const 1))
    (block $done
      (loop $next
        (br_if $done (i64.le_u (local.get $n) (i64.const 1)))
        (local.set $result (i64.mul (local.get $result) (local.get $n)))
        (local.set $n (i64.sub (local.get $n) (i64.const 1)))
        (br $next)))
    (local.get $result))

  (func $calls (export "calls") (result i32)
    (global.get $calls))

  (export "add" (func $add))
  (export "sub" (func $sub))
  (export "mul" (func $mul))
  (export "div_s" (func $div_s)))
