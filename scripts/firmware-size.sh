#!/usr/bin/env bash
# Prints the flash and static-RAM use of a firmware ELF against the budget; fails if over.
#   scripts/firmware-size.sh ELF [FLASH_BUDGET_KIB] [RAM_BUDGET_KIB]
# Flash = .vector_table + .text + .rodata + .data (initial values); static RAM = .data + .bss +
# .uninit (the stack and what the heap holds come out of the rest of RAM; the heap's own array is
# in .bss). Budgets default to the issue's: 192 KiB flash, 64 KiB RAM.
set -euo pipefail
elf=$1
flash_budget=$(( ${2:-192} * 1024 ))
ram_budget=$(( ${3:-64} * 1024 ))
command -v arm-none-eabi-size >/dev/null || { echo "arm-none-eabi-size missing: run ./scripts/setup.sh" >&2; exit 1; }
arm-none-eabi-size -A "$elf" | awk -v fb="$flash_budget" -v rb="$ram_budget" -v elf="$elf" '
  $1 == ".vector_table" || $1 == ".text" || $1 == ".rodata" { flash += $2 }
  $1 == ".data" { flash += $2; ram += $2 }
  $1 == ".bss" || $1 == ".uninit" { ram += $2 }
  END {
    printf "%s\n", elf
    printf "  flash %7d B (%6.1f KiB) of %4d KiB budget: %5.1f%%\n", flash, flash/1024, fb/1024, 100*flash/fb
    printf "  RAM   %7d B (%6.1f KiB) of %4d KiB budget: %5.1f%% (static: .data+.bss)\n", ram, ram/1024, rb/1024, 100*ram/rb
    if (flash > fb || ram > rb) { print "  OVER BUDGET"; exit 1 }
  }'
