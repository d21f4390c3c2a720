"e
web&d (2PP2¿>ê?:10.20.0.0/16H	Ë (2ªªBlbH
 (255:	0.0.0.0/0H"
lb*^
web-1node-a	veth-web1""/sys/fs/cgroup/unified/web-1.slice*	10.20.1.5*
fd00:20::52web8H*'
lb-1node-bveth-lb1*	10.20.2.12lb22
node-aeth0198.51.100.0/242001:db8:bad::/48