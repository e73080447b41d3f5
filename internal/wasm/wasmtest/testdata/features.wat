;; features.wat: a Proxy-Wasm-shaped module that uses every section and
;; encoding wazero's decoder accepts by default (WebAssembly 2.0: multi-value,
;; bulk memory, reference types, SIMD), so tests can check that the bounds
;; check in package wasm never rejects a valid module. Assembled with
;; --debug-names so it also carries a name section (module, function and
;; local names). It is never run.
(module $features
  (type $pair (func (param i32 i64) (result i32 i64)))
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "imported_table" (table $itab 1 funcref))
  (import "env" "imported_global" (global $ig i32))
  (import "env" "imported_mutable" (global $im (mut i64)))

  (table $funcs 4 8 funcref)
  (table $refs 2 externref)
  (memory (export "memory") 1 2)

  (global $g32 (mut i32) (i32.const -1))
  (global $g64 i64 (i64.const 0x7fffffffffffffff))
  (global $gf32 f32 (f32.const 1.5))
  (global $gf64 f64 (f64.const -2.25))
  (global $gv128 v128 (v128.const i32x4 1 2 3 4))
  (global $gref funcref (ref.func $swap))
  (global $gnull externref (ref.null extern))
  (global $gcopy i32 (global.get $ig))

  (func $swap (export "swap") (type $pair) (param $a i32) (param $b i64) (result i32 i64)
    (local $tmp i32) (local $wide i64) (local $f f32) (local $d f64)
    (local $v v128) (local $fr funcref) (local $er externref)
    (local.get $a) (local.get $b))

  (func (export "proxy_abi_version_0_2_1"))

  (func $dispatch (export "dispatch") (param $i i32) (result i32)
    (block $b2 (block $b1 (block $b0
      (br_table $b0 $b1 $b2 (local.get $i)))
      (return (i32.const 10)))
      (return (i32.const 11)))
    (memory.init $passive (i32.const 0) (i32.const 0) (i32.const 4))
    (data.drop $passive)
    (table.init $funcs $passive_elems (i32.const 0) (i32.const 0) (i32.const 1))
    (elem.drop $passive_elems)
    (call_indirect $funcs (type $pair) (i32.const 1) (i64.const 2) (i32.const 0))
    (drop) (drop)
    (drop (i32x4.extract_lane 0 (global.get $gv128)))
    (call $log (i32.const 0) (i32.const 0) (i32.const 0)))

  (func $start (global.set $g32 (i32.const 0)))
  (start $start)

  ;; Element segments in all eight encodings (flags 0-7).
  (elem (i32.const 0) $swap $dispatch)                       ;; active, table 0
  (elem $passive_elems func $swap)                            ;; passive
  (elem declare func $start)                                  ;; declarative
  (elem (table $funcs) (i32.const 2) funcref (ref.func $swap) (ref.null func))
  (elem (table $refs) (i32.const 0) externref (ref.null extern))
  (elem (table $funcs) (i32.const 3) func $swap)             ;; active, table 1
  (elem (i32.const 0) funcref (ref.null func))                ;; active, exprs
  (elem funcref (ref.null func))                              ;; passive, exprs
  (elem declare funcref (ref.null func))                      ;; declarative, exprs

  (data (i32.const 16) "active")
  (data $passive "passive")
  (data (memory 0) (i32.const 32) "explicit memory index"))
