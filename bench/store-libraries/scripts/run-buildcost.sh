#!/bin/bash
# Debug clean-build cost of each dependency (trivial executable depending only on it).
# "full"  = rm -rf .build, then swift build (includes cloning from the local package mirror + resolving)
# "clean" = swift package clean (keeps checkouts), then swift build   (pure compile + link)
set -u
cd /tmp/storespike/buildcost
out=/tmp/storespike/results/buildcost.jsonl
for v in ${@:-empty nio-only grdb with-sqlite-nio}; do
  ( cd $v
    rm -rf .build
    s=$(date +%s.%N); nice -n 19 swift build >/tmp/storespike/results/build-$v-full.log 2>&1; rc=$?; e=$(date +%s.%N)
    echo "{\"bench\":\"buildcost\",\"pkg\":\"$v\",\"kind\":\"full\",\"rc\":$rc,\"seconds\":$(echo "$e - $s" | bc),\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" | tee -a $out
    for i in 1 2; do
      nice -n 19 swift package clean
      s=$(date +%s.%N); nice -n 19 swift build >/tmp/storespike/results/build-$v-clean$i.log 2>&1; rc=$?; e=$(date +%s.%N)
      echo "{\"bench\":\"buildcost\",\"pkg\":\"$v\",\"kind\":\"clean\",\"run\":$i,\"rc\":$rc,\"seconds\":$(echo "$e - $s" | bc),\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" | tee -a $out
    done
    ./.build/debug/app
    du -sh .build | sed 's/^/build dir size: /'
  )
done
