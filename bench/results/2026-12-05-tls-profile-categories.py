import collections,sys,re
def cat(st):
    low=st.lower(); fr=st.split(';'); leaf=fr[-1].lower()
    if 'compilerthread' in low or 'compilebroker' in low: return 'JIT'
    if re.search(r'(sslengineimpl|opensslengine|sslenginewrapper)\.(wrap|unwrap)', low) or 'handshake' in low or 'com/sun/crypto' in low or 'sun/security' in low: return 'crypto+handshake'
    if any(s in leaf for s in ['send','write','read','recv','epoll','sendmsg','writev']) and not '/' in leaf: return 'socket syscalls'
    if 'futex' in leaf or 'pthread_cond' in leaf or 'park' in leaf: return 'futex/park'
    if 'sslhandler' in low: return 'under SslHandler (pipeline)'
    if 'alipay' in low: return 'sofa/bolt'
    if 'io/grpc' in low: return 'grpc'
    return 'other'
res={}
for f in sys.argv[1:]:
    tot=0; c=collections.Counter()
    for line in open(f):
        st,_,n=line.rstrip().rpartition(' '); n=int(n); tot+=n; c[cat(st)]+=n
    res[f]=(tot,c)
    print(f, tot, ', '.join(f'{k} {v}' for k,v in c.most_common()))
