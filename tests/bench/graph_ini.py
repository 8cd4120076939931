#!/usr/bin/env python3
"""Writes a large task file for the load-and-plan benchmark:
graph_ini.py N FILE [CHAINS]

N tasks in CHAINS chains (after =), each prompt referring to a task two
links up its chain ({{name}}), each task writing its own file and one in
its module's directory, every 100th task the whole module (src/mK/**),
every 10th 3 replicas over two backends, every 20th in a worktree."""
import sys


def write(path, n, chains=100, command="true"):
    with open(path, "w") as f:
        f.write("[backend sh]\ntype = exec\ncommand = %s\n\n" % command)
        f.write("[backend sh2]\ntype = exec\ncommand = %s\n\n" % command)
        f.write("[backend sh3]\ntype = exec\ncommand = %s\n\n" % command)
        for i in range(n):
            w = ["out/f%d.txt" % i, "src/m%d/f%d.c" % (i % 50, i)]
            if i % 100 == 99:
                w.append("src/m%d/**" % (i // 100 % 50))
            f.write("[task t%d]\n" % i)
            f.write("backend = %s\n" % ("sh, sh2" if i % 10 == 0 else
                                        ("sh", "sh2", "sh3")[i % 3]))
            if i >= 2 * chains:
                f.write("prompt = step %d, after {{t%d}}\n"
                        % (i, i - 2 * chains))
            else:
                f.write("prompt = step %d\n" % i)
            if i >= chains:
                f.write("after = t%d\n" % (i - chains))
            f.write("writes = %s\n" % ", ".join(w))
            if i % 10 == 0:
                f.write("replicas = 3\n")
            if i % 20 == 0:
                f.write("isolation = worktree\n")
            f.write("\n")


if __name__ == "__main__":
    write(sys.argv[2], int(sys.argv[1]),
          int(sys.argv[3]) if len(sys.argv) > 3 else 100)
