import collections,sys,re
def thread(st):
    t=st.split(';')[0]
    t=re.sub(r'\d+','N',t)
    return t
res=collections.Counter(); tot=0
for f in sys.argv[1:]:
    for line in open(f):
        st,_,n=line.rstrip().rpartition(' ')
        if not n.isdigit(): continue
        n=int(n); tot+=n; res[thread(st)]+=n
print('total',tot)
for k,v in res.most_common(25): print('%6d %5.1f%% %s'%(v,100*v/tot,k))
