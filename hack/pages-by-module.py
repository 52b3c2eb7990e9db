#!/usr/bin/env python3
"""Where a running process's resident pages of its executable are, by the Swift module (or C symbol) of the
function each page starts in: `hack/pages-by-module.py PID EXECUTABLE` (root, for /proc/PID/pagemap)."""
import sys, struct, subprocess, re, collections, bisect
pid=int(sys.argv[1]); path=sys.argv[2]
# symbols
out=subprocess.run(["nm","-n","--defined-only",path],capture_output=True,text=True).stdout
addrs=[];names=[]
for line in out.splitlines():
    p=line.split()
    if len(p)>=3 and p[1] in "tTwW":
        addrs.append(int(p[0],16)); names.append(p[2])
# load base: find mapping with offset 0
maps=[]
base=None
for line in open(f"/proc/{pid}/maps"):
    p=line.split()
    if len(p)>=6 and p[5]==path:
        a,b=[int(x,16) for x in p[0].split('-')]; off=int(p[2],16)
        maps.append((a,b,off))
        if off==0 and base is None: base=a
# PIE? check ELF type
etype=subprocess.run(["readelf","-h",path],capture_output=True,text=True).stdout
pie="DYN" in etype
pm=open(f"/proc/{pid}/pagemap","rb")
cnt=collections.Counter()
def module(n):
    m=re.match(r'\$s(\d+)',n)
    if m:
        l=int(m.group(1)); return n[2+len(m.group(1)):2+len(m.group(1))+l]
    if n.startswith("swift_") or n.startswith("_swift"): return "swiftruntime"
    return "C:"+n[:12]
for a,b,off in maps:
    pm.seek(a//4096*8); data=pm.read((b-a)//4096*8)
    for i in range((b-a)//4096):
        e=struct.unpack_from("<Q",data,i*8)[0]
        if e>>63 & 1:
            va=a+i*4096
            sv=va-base if pie else va
            j=bisect.bisect_right(addrs,sv)-1
            if j>=0 and sv-addrs[j] < 1<<20: cnt[module(names[j])]+=4
for n,c in cnt.most_common(30): print(c,"KB",n)
