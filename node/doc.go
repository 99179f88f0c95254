// Package node is the node host (`pincer node run`): it pairs with a
// gateway as a role:"node" device and answers node.invoke requests with
// platform capture backends. It arrives with the devices-and-nodes issue;
// the gateway already rejects node connects without a device identity.
package node
