# A guest test that must fail: proves the result line reports failures.
echo "failing on purpose"
exit 3
