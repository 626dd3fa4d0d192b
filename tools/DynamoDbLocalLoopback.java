import java.lang.reflect.Field;

import org.eclipse.jetty.server.AbstractNetworkConnector;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;

import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * Starts DynamoDB Local bound to 127.0.0.1 only.
 *
 * DynamoDB Local has no bind-address option: its Jetty server is built with {@code new Server(port)},
 * which listens on every interface. This launcher builds the server the way DynamoDB Local's own main
 * does, reaches the private Jetty {@code server} field by reflection, sets the host of each network
 * connector to the loopback address before {@code start()}, then joins.
 *
 * Run in single-file source mode (Java 11+), with the DynamoDB Local jar and its lib folder on the
 * class path, and the same arguments DynamoDB Local takes:
 *
 * <pre>
 * java -cp "DynamoDBLocal.jar:DynamoDBLocal_lib/*" -Djava.library.path=DynamoDBLocal_lib \
 *   tools/DynamoDbLocalLoopback.java -inMemory -port 8000 -disableTelemetry
 * </pre>
 *
 * Telemetry is never configured here, so nothing is sent anywhere whatever the arguments say.
 */
public final class DynamoDbLocalLoopback {
    private static final String HOST = "127.0.0.1";

    private DynamoDbLocalLoopback() {
    }

    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Server jetty = jettyOf(proxy);

        int bound = 0;
        for (Connector connector : jetty.getConnectors()) {
            if (!(connector instanceof AbstractNetworkConnector)) {
                fail("unexpected connector type " + connector.getClass().getName() + ": cannot restrict it to " + HOST);
            }
            ((AbstractNetworkConnector) connector).setHost(HOST);
            bound++;
        }
        if (bound == 0) {
            fail("DynamoDB Local's Jetty server has no network connector to restrict to " + HOST);
        }

        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                proxy.stop();
            } catch (Exception e) {
                System.err.println("DynamoDbLocalLoopback: stop failed: " + e);
            }
        }, "dynamodb-local-stop"));

        // DynamoDBProxyServer.start() prints and swallows a failed bind, so check the outcome here.
        proxy.start();
        if (!jetty.isStarted()) {
            fail("DynamoDB Local did not start (see the lines above)");
        }
        for (Connector connector : jetty.getConnectors()) {
            AbstractNetworkConnector network = (AbstractNetworkConnector) connector;
            System.err.println("DynamoDbLocalLoopback: listening on " + network.getHost() + ":" + network.getLocalPort());
        }
        proxy.join();
    }

    private static Server jettyOf(DynamoDBProxyServer proxy) throws ReflectiveOperationException {
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Object value = field.get(proxy);
        if (!(value instanceof Server)) {
            fail("DynamoDBProxyServer.server is not a Jetty Server (found " + value + "): this DynamoDB Local version is not supported");
        }
        return (Server) value;
    }

    private static void fail(String message) {
        System.err.println("DynamoDbLocalLoopback: " + message);
        System.exit(1);
    }
}
