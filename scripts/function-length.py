#!/usr/bin/env python3
# Lists C++ functions longer than N lines (default 80), longest first: "lines file:line".
# Run in the repository root: scripts/function-length.py [N]. A heuristic (comments, strings
# and raw strings stripped, braces counted), good enough to find functions to split into phases.
import re,subprocess,sys
files=subprocess.check_output(['git','ls-files','*.cpp','*.hpp'],text=True).split()
thr=int(sys.argv[1]) if len(sys.argv)>1 else 80
res=[]
for f in files:
    src=open(f).read()
    # strip comments and strings
    src=re.sub(r'//[^\n]*','',src)
    src=re.sub(r'/\*.*?\*/',lambda m:'\n'*m.group(0).count('\n'),src,flags=re.S)
    src=re.sub(r'R"(\w*)\((.*?)\)\1"',lambda m:'""'+'\n'*m.group(0).count('\n'),src,flags=re.S)
    src=re.sub(r'"(\\.|[^"\\\n])*"','""',src)
    src=re.sub(r"'(\\.|[^'\\\n])'","''",src)
    depth=0; infn=None; line=1; stack=[]
    prev=''
    i=0
    for i,c in enumerate(src):
        if c=='\n': line+=1
        elif c=='{':
            isfn=False
            if infn is None:
                before=src[max(0,i-200):i].rstrip()
                if re.search(r'(\)|\bconst|\bnoexcept|\boverride|->\s*[\w:<>,\s]+)$',before) and not re.search(r'\b(if|for|while|switch|catch)\s*\([^;{}]*\)$',before):
                    isfn=True
                # constructor with init list: ends with ')' or '}' after ':'
            stack.append(isfn)
            if isfn: infn=line
        elif c=='}':
            if stack:
                isfn=stack.pop()
                if isfn:
                    n=line-infn+1
                    if n>thr:
                        # signature line
                        res.append((n,f,infn))
                    infn=None
for n,f,l in sorted(res,reverse=True): print(n,f+':'+str(l))
